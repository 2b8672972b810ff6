DecodeCommand.hvMain("hv-decode")
