// hv-mask: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-mask", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-mask is not implemented yet") }
}
NotYet.hvMain("hv-mask")
