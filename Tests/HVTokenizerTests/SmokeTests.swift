import XCTest

final class HVTokenizerTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
