// hv-manifest: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-manifest", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-manifest is not implemented yet") }
}
NotYet.hvMain("hv-manifest")
