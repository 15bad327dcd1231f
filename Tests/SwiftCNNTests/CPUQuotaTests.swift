import XCTest
@testable import SwiftCNN

/// The default thread count's parsers (``CPUQuota``), on sample file contents.
final class CPUQuotaTests: XCTestCase {
    func testThreadOverride() {
        XCTAssertEqual(CPUQuota.threadOverride("4"), 4)
        XCTAssertEqual(CPUQuota.threadOverride(" 2\n"), 2)
        for junk in [nil, "", "0", "-1", "+3", "two", "1.5", "3x", "99999999999999999999999"] as [String?] {
            XCTAssertNil(CPUQuota.threadOverride(junk), "\(String(describing: junk))")
        }
    }

    func testCgroupV2CPUMax() {
        XCTAssertEqual(CPUQuota.parseCPUMax("200000 100000\n"), 2)
        XCTAssertEqual(CPUQuota.parseCPUMax("150000 100000"), 2)  // rounded up
        XCTAssertEqual(CPUQuota.parseCPUMax("50000 100000"), 1)
        XCTAssertEqual(CPUQuota.parseCPUMax("1000 100000"), 1)  // at least 1
        XCTAssertNil(CPUQuota.parseCPUMax("max 100000\n"))
        XCTAssertNil(CPUQuota.parseCPUMax(""))
        XCTAssertNil(CPUQuota.parseCPUMax("junk"))
        XCTAssertNil(CPUQuota.parseCPUMax("100000 0"))
    }

    func testCgroupV1CFS() {
        XCTAssertEqual(CPUQuota.parseCFS(quota: "300000\n", period: "100000\n"), 3)
        XCTAssertEqual(CPUQuota.parseCFS(quota: "250000", period: "100000"), 3)
        XCTAssertNil(CPUQuota.parseCFS(quota: "-1\n", period: "100000\n"))
        XCTAssertNil(CPUQuota.parseCFS(quota: "x", period: "100000"))
    }

    func testProcCgroup() {
        let v2 = CPUQuota.parseProcCgroup("0::/user.slice/session-3.scope\n")
        XCTAssertEqual(v2.v2, "/user.slice/session-3.scope")
        XCTAssertNil(v2.v1cpu)
        let v1 = CPUQuota.parseProcCgroup("""
            9:name=systemd:/
            4:memory:/docker/abc
            2:cpu,cpuacct:/docker/abc
            0::/
            """)
        XCTAssertEqual(v1.v1cpu, "/docker/abc")
        XCTAssertEqual(v1.v2, "/")
        XCTAssertEqual(CPUQuota.parseProcCgroup("1:cpu:/a\n2:cpuacct:/b\n").v1cpu, "/a")
        XCTAssertEqual(CPUQuota.ancestors("/a/b"), ["/a/b", "/a", "/"])
        XCTAssertEqual(CPUQuota.ancestors("/"), ["/"])
    }

    func testCPUList() {
        XCTAssertEqual(CPUQuota.parseCPUList("\t0-3,8,10-11\n"), 7)
        XCTAssertEqual(CPUQuota.parseCPUList("0"), 1)
        XCTAssertNil(CPUQuota.parseCPUList(""))
        XCTAssertNil(CPUQuota.parseCPUList("3-1"))
        XCTAssertNil(CPUQuota.parseCPUList("a-b"))
    }

    func testDefaultThreads() {
        XCTAssertEqual(CPUQuota.defaultThreads(override: nil, affinity: 8, quota: 2), 2)
        XCTAssertEqual(CPUQuota.defaultThreads(override: nil, affinity: 2, quota: nil), 2)
        XCTAssertEqual(CPUQuota.defaultThreads(override: 5, affinity: 2, quota: 1), 5)
        XCTAssertEqual(CPUQuota.defaultThreads(override: 100_000, affinity: 2, quota: nil), Threading.maxThreads)
        XCTAssertEqual(CPUQuota.defaultThreads(override: nil, affinity: 0, quota: nil), 1)
        XCTAssertGreaterThanOrEqual(Threading.defaultThreadCount, 1)
    }
}
