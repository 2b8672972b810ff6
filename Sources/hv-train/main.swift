// hv-train: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-train", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-train is not implemented yet") }
}
NotYet.hvMain("hv-train")
