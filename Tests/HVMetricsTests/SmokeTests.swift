import XCTest

final class HVMetricsTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
