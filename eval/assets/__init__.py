"""Data files shipped with eval (see NOTICE.txt for their origin and licence)."""
