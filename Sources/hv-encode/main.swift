// hv-encode: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-encode", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-encode is not implemented yet") }
}
NotYet.hvMain("hv-encode")
