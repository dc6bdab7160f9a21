import Foundation

/// RFC 3339 / ISO 8601 times, written and read in one place. The format styles are Sendable
/// values made once, not a formatter built per call.
public enum Timestamp {
    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let whole = Date.ISO8601FormatStyle()
    private static let dateOnly = Date.ISO8601FormatStyle().year().month().day()

    /// RFC 3339 in UTC with milliseconds: `2026-11-29T04:26:07.690Z`.
    public static func rfc3339(_ date: Date) -> String {
        withFraction.format(date)
    }

    /// Reads an RFC 3339 date-time (with or without fractional seconds, any offset) or a plain
    /// date (`2026-11-27`, midnight UTC).
    public static func parse(_ text: String) -> Date? {
        (try? withFraction.parse(text)) ?? (try? whole.parse(text)) ?? (try? dateOnly.parse(text))
    }
}
