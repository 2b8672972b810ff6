MaskCommand.hvMain("hv-mask")
