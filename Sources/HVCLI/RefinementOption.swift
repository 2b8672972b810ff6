// --refine and --refine-colour of the tools that refine the dense layer's codes (hv-encode, hv-train diagnose): one
// definition, so the options read, default and validate alike in both. The tools turn them into HVTokenizer's
// CodeRefinement (this module does not depend on the tokenizer).
import ArgumentParser

public struct RefinementOption: ParsableArguments {
    @Option(name: .customLong("refine"), help: "Refine layer 0's codes by N rounds of bit flips chosen by the decoder's gradient, each kept only if the render's error falls (analysis by synthesis; coarse layers unchanged; 0 = the encoder's codes).")
    public var rounds: Int = 0

    @Option(name: .customLong("refine-colour"), help: "With --refine: weight w of the clip's mean-colour error in what the refinement minimises (squared error + w · Σ over R, G, B of the squared offset of the channel's mean, on the [-1, 1] scale); 0 searches the squared error alone. The default, 0.3, brought the worst held-out channel mean from 3.3 to 2.3 levels off for 0.02 dB (formats/tokenizer.md).")
    public var colourWeight: Double = 0.3

    public init() {}

    public func validate() throws {
        guard rounds >= 0 else { throw ValidationError("--refine must be 0 (off) or positive.") }
        guard colourWeight >= 0, colourWeight.isFinite else {
            throw ValidationError("--refine-colour must be 0 (off) or a positive number.")
        }
    }
}
