// hv-bench: speed and memory of the engine against peers measured in the same run (ratios, never asserts).
import ArgumentParser
import HVCLI

struct HVBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-bench",
        abstract: "Measure engine speed and memory against reference implementations.",
        subcommands: [SeqBenchCommand.self])
}
