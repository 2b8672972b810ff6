// hv-render: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-render", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-render is not implemented yet") }
}
NotYet.hvMain("hv-render")
