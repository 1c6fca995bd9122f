"""Share drivers shipped with manila_lite."""
