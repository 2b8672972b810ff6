ManifestCommand.hvMain("hv-manifest")
