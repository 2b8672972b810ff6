EncodeCommand.hvMain("hv-encode")
