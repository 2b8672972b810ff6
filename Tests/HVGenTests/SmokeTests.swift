import XCTest

final class HVGenTestsSmoke: XCTestCase {
    func testTargetBuilds() { XCTAssertTrue(true) }
}
