"""Bench files shipped with nvsense (``load_bench("single_nv")``); see ``BUILTIN_BENCHES``."""
