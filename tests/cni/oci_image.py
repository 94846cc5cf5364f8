#!/usr/bin/env python3
"""oci_image.py ROOTFS_DIR NAME OUT.tar: pack a directory into a one-layer
OCI image archive that `ctr image import` (containerd) accepts, with NAME in
the io.containerd.image.name annotation. No registry is reachable from the
test machines, so the tests build their busybox image locally this way."""
import hashlib
import io
import json
import sys
import tarfile


def blob(out, data, media):
    d = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{d}")
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return {"mediaType": media, "digest": f"sha256:{d}", "size": len(data)}


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: oci_image.py ROOTFS_DIR NAME OUT.tar")
    rootfs, name, path = sys.argv[1:]
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        t.add(rootfs, arcname=".")
    layer = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }).encode()
    with tarfile.open(path, "w") as out:
        lay = blob(out, layer, "application/vnd.oci.image.layer.v1.tar")
        cfg = blob(out, config, "application/vnd.oci.image.config.v1+json")
        manifest = json.dumps({"schemaVersion": 2, "config": cfg,
                               "layers": [lay]}).encode()
        man = blob(out, manifest, "application/vnd.oci.image.manifest.v1+json")
        man["annotations"] = {"io.containerd.image.name": name,
                              "org.opencontainers.image.ref.name": name}
        for fname, data in (("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                            ("index.json", json.dumps({"schemaVersion": 2,
                                                       "manifests": [man]}).encode())):
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()
