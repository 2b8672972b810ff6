RenderCommand.hvMain("hv-render")
