// hv-info: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-info", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-info is not implemented yet") }
}
NotYet.hvMain("hv-info")
