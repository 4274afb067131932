"""Shared benchmark helpers: QEMU runner (qemu.py) and result records (results.py)."""
