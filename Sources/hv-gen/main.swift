GenCommand.hvMain("hv-gen")
