import XCTest
@testable import HVCore

/// HV_THREADS (Threads.limit): a positive integer caps the tools' own threads; anything else means no cap.
final class ThreadsTests: XCTestCase {
    func testParseTakesOnlyPositiveIntegers() {
        XCTAssertEqual(Threads.parse("1"), 1)
        XCTAssertEqual(Threads.parse(" 4 "), 4)
        for s in [nil, "", "0", "-2", "two", "1.5"] { XCTAssertNil(Threads.parse(s), "\(s ?? "nil")") }
    }

    func testCappedNeverExceedsTheCoresNorGoesBelowOne() {
        XCTAssertEqual(Threads.capped(8, limit: nil), 8)
        XCTAssertEqual(Threads.capped(8, limit: 1), 1)
        XCTAssertEqual(Threads.capped(2, limit: 16), 2)
        XCTAssertEqual(Threads.capped(0, limit: nil), 1)
    }
}
