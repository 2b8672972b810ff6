TrainCommand.hvMain("hv-train")
