import Foundation
import Synchronization

/// The server's counters and histograms, rendered in Prometheus' text format at `/metrics`
/// (with gauges read from the store at each scrape). No labels from user input: only fixed
/// operation names, job types of the loaded nodes, statuses and HTTP methods.
final class Metrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private struct Histogram {
        var counts = [Int](repeating: 0, count: Metrics.buckets.count)
        var sum = 0.0
        var count = 0
    }

    private struct State {
        var counters: [String: [String: Double]] = [:]
        var histograms: [String: [String: Histogram]] = [:]
    }

    private let state = Mutex(State())
    static let help: [String: String] = [
        "procrun_http_requests_total": "HTTP requests answered, by method and status.",
        "procrun_instances_started_total": "Instances this server started (API, pages and messages).",
        "procrun_steps_total": "Steps this server committed for requests, by operation.",
        "procrun_step_duration_seconds": "Time to run and commit one step of a request, by operation.",
        "procrun_job_tries_total": "Tries of integration jobs by this server's workers, by type and result.",
        "procrun_job_duration_seconds": "Time of one try of an integration job, by type.",
    ]

    /// `labels`: `name="value"` pairs, already in the text format.
    func increment(_ name: String, _ labels: String = "", by amount: Double = 1) {
        state.withLock { $0.counters[name, default: [:]][labels, default: 0] += amount }
    }

    func observe(_ name: String, _ labels: String = "", seconds: Double) {
        state.withLock { state in
            var histogram = state.histograms[name, default: [:]][labels] ?? Histogram()
            for (index, bound) in Self.buckets.enumerated() where seconds <= bound { histogram.counts[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.histograms[name, default: [:]][labels] = histogram
        }
    }

    /// The text format, with `gauges` (name, help, [labels: value]) read just now.
    func render(gauges: [(name: String, help: String, values: [String: Double])]) -> String {
        let state = state.withLock { $0 }
        var text = ""
        func line(_ name: String, _ labels: String, _ value: Double) {
            let number = value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
            text += labels.isEmpty ? "\(name) \(number)\n" : "\(name){\(labels)} \(number)\n"
        }
        for (name, help, values) in gauges {
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for (labels, value) in values.sorted(by: { $0.key < $1.key }) { line(name, labels, value) }
        }
        for name in state.counters.keys.sorted() {
            text += "# HELP \(name) \(Self.help[name] ?? name)\n# TYPE \(name) counter\n"
            for (labels, value) in state.counters[name]!.sorted(by: { $0.key < $1.key }) { line(name, labels, value) }
        }
        for name in state.histograms.keys.sorted() {
            text += "# HELP \(name) \(Self.help[name] ?? name)\n# TYPE \(name) histogram\n"
            for (labels, histogram) in state.histograms[name]!.sorted(by: { $0.key < $1.key }) {
                let prefix = labels.isEmpty ? "" : labels + ","
                // Each observation was counted in every bucket it fits: the counts are cumulative.
                for (index, bound) in Self.buckets.enumerated() {
                    line(name + "_bucket", prefix + "le=\"\(bound)\"", Double(histogram.counts[index]))
                }
                line(name + "_bucket", prefix + "le=\"+Inf\"", Double(histogram.count))
                line(name + "_sum", labels, histogram.sum)
                line(name + "_count", labels, Double(histogram.count))
            }
        }
        return text
    }

    /// A label value escaped for the text format.
    static func label(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
