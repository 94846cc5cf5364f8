#!/usr/bin/env bash
# Print the EAL memory arguments chosen by host-setup.sh (may be empty).
cat /run/sluice/eal-mem 2>/dev/null || echo "--no-huge -m 512"
