# scan
