// hv-decode: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-decode", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-decode is not implemented yet") }
}
NotYet.hvMain("hv-decode")
