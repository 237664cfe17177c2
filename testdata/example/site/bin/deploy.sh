#!/bin/sh
# Example deployment script: unpack restores its executable bit.
set -eu
echo "deploying $(cat "$(dirname "$0")/../releases/v1/VERSION")"
