// Learning-rate schedule: linear warm-up from 0 to the peak, then cosine decay to a floor
// (the usual transformer recipe, e.g. MAGVIT-v2 / GPT training). Steps count from 0.
import Foundation

public struct LRSchedule: Codable, Equatable, Sendable {
    /// Rate at the end of warm-up.
    public var peak: Float
    /// Steps of linear warm-up; step s < warmup gets peak·(s+1)/warmup.
    public var warmupSteps: Int
    /// Step at which the cosine reaches the floor; later steps stay at the floor.
    public var totalSteps: Int
    /// Final rate.
    public var floor: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, floor: Float = 0) {
        self.peak = peak; self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(totalSteps, warmupSteps); self.floor = floor
    }

    /// The rate for step `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = totalSteps - warmupSteps
        if span <= 0 { return peak }          // no decay phase configured
        if step >= totalSteps { return floor }
        let progress = Double(step - warmupSteps) / Double(span)
        let cosine = 0.5 * (1 + cos(Double.pi * progress))
        return floor + (peak - floor) * Float(cosine)
    }
}
