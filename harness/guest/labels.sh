#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Initialise the label area of every NVDIMM (the emulated DIMMs start
# blank; without labels no namespace can be sized).
ndctl disable-region all >/dev/null &&
	ndctl init-labels -f all &&
	ndctl enable-region all >/dev/null
