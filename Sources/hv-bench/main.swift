// hv-bench: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-bench", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-bench is not implemented yet") }
}
NotYet.hvMain("hv-bench")
