# shared functions
