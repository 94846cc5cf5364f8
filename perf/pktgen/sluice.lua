-- sluice.lua: pktgen-dpdk Lua script, pod A -> pod B through sluice-dp.
-- Sweeps frame sizes, runs each for DURATION_MS on port 0 as fast as the
-- core can, and prints tx/rx Mpps and the loss per size. Run with:
--   pktgen ... -- -P -m "1.[0-1]" -f perf/pktgen/sluice.lua
-- (see perf/README.md for the EAL and memif arguments).
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local GW_MAC = "02:00:00:00:00:01"   -- sluice-dp's gateway MAC (the only unicast it accepts)
local SIZES = { 64, 128, 256, 512, 1024, 1518 }
local DURATION_MS = 10000
local SETTLE_MS = 1000

pktgen.screen("off")
pktgen.set_mac("0", "dst", GW_MAC)
pktgen.set_mac("1", "dst", GW_MAC)
pktgen.set_ipaddr("0", "src", "10.77.1.2/24")
pktgen.set_ipaddr("0", "dst", "10.77.1.3")
pktgen.set_ipaddr("1", "src", "10.77.1.3/24")
pktgen.set_ipaddr("1", "dst", "10.77.1.2")
pktgen.set_type("all", "ipv4")
pktgen.set_proto("all", "udp")
pktgen.set("all", "sport", 1024)
pktgen.set("all", "dport", 5001)
pktgen.set("all", "rate", 100)
pktgen.set("all", "burst", 32)

printf("%-6s %10s %10s %10s\n", "size", "tx Mpps", "rx Mpps", "loss %")
for _, size in ipairs(SIZES) do
    pktgen.set("0", "size", size)
    pktgen.clr()
    pktgen.delay(SETTLE_MS)
    pktgen.start("0")
    pktgen.delay(DURATION_MS)
    pktgen.stop("0")
    -- Let frames in flight through dp reach port 1 before reading counters.
    pktgen.delay(SETTLE_MS)
    local st = pktgen.portStats("all", "port")
    local tx = st[0].opackets
    local rx = st[1].ipackets
    local secs = DURATION_MS / 1000
    local loss = 0
    if tx > 0 then loss = 100 * (tx - rx) / tx end
    printf("%-6d %10.3f %10.3f %10.3f\n", size, tx / secs / 1e6, rx / secs / 1e6, loss)
end
pktgen.quit()
