#!/bin/sh
# Regenerates the marshal fixtures with every Python available under pyenv
# (standard library only; nothing is executed but compile and marshal.dumps).
set -e
cd "$(dirname "$0")"
for v in 2.7.18 3.6.15 3.7.16 3.8.18 3.9.18 3.10.13 3.11.7 3.12.1 3.13.0; do
  "$HOME/.pyenv/versions/$v/bin/python" gen.py
done
