// hv-gen: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-gen", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-gen is not implemented yet") }
}
NotYet.hvMain("hv-gen")
