InfoCommand.hvMain("hv-info")
