// hv-metrics: not implemented yet.
import ArgumentParser
import HVCLI

struct NotYet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hv-metrics", abstract: "Not implemented yet.")
    func run() throws { throw ValidationError("hv-metrics is not implemented yet") }
}
NotYet.hvMain("hv-metrics")
