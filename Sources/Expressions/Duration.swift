import Values

/// Parses a delay: plain seconds ("5", "0.5") or an ISO-8601 duration ("PT5S", "PT1M30S", "P1D").
public func parseDuration(_ text: String) -> Double? {
    let trimmed = text.trimmingWhitespace()
    if let seconds = Double(trimmed) { return seconds >= 0 && seconds.isFinite ? seconds : nil }
    var rest = Substring(trimmed.uppercased())
    guard rest.hasPrefix("P") else { return nil }
    rest = rest.dropFirst()
    var total = 0.0
    var inTime = false
    var number = ""
    var sawComponent = false
    for char in rest {
        if char == "T" {
            guard !inTime, number.isEmpty else { return nil }
            inTime = true
            continue
        }
        if char.isNumber || char == "." || char == "," {
            number.append(char == "," ? "." : char)
            continue
        }
        guard let value = Double(number) else { return nil }
        number = ""
        sawComponent = true
        switch (char, inTime) {
        case ("W", false): total += value * 7 * 86400
        case ("D", false): total += value * 86400
        case ("H", true): total += value * 3600
        case ("M", true): total += value * 60
        case ("S", true): total += value
        default: return nil
        }
    }
    return sawComponent && number.isEmpty ? total : nil
}
