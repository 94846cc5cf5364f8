#!/usr/bin/env bash
# Prepare the host for sluice-dp: hugepages, hugetlbfs and bpffs.
# Idempotent. Writes /run/sluice/eal-mem, the EAL memory arguments every
# script should pass (empty with hugepages, "--no-huge -m 512" when the
# kernel refuses them), so tests still run on a machine without hugepages.
set -euo pipefail

want_pages=${SLUICE_HUGEPAGES:-1024}
mkdir -p /run/sluice

cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if [ "$cur" -lt "$want_pages" ]; then
  echo "$want_pages" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
fi

if ! mount | grep -q ' type hugetlbfs '; then
  mkdir -p /dev/hugepages
  mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi

if [ "$cur" -gt 64 ] && mount | grep -q ' type hugetlbfs '; then
  : > /run/sluice/eal-mem
  echo "host-setup: $cur hugepages of 2 MiB reserved, hugetlbfs mounted"
else
  echo "--no-huge -m 512" > /run/sluice/eal-mem
  echo "host-setup: kernel refused hugepages (got $cur); dp will run with --no-huge"
fi

if ! mount | grep -q ' type bpf '; then
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null && echo "host-setup: bpffs mounted on /sys/fs/bpf" \
    || echo "host-setup: could not mount bpffs; AF_XDP ports will fall back to AF_PACKET"
fi
