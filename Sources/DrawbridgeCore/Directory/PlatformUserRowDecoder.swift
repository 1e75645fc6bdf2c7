import Foundation
import PostgresNIO

/// Reads a platform row by position, accepting the column types platforms actually use
/// (integer, text or UUID ids; text or varchar names; boolean or integer active flags).
enum PlatformUserRowDecoder {
    static func decode(_ row: PostgresRow) throws -> PlatformUser {
        let cells = Array(row)
        guard cells.count >= 6 else {
            throw DirectoryError.unexpectedColumn(index: cells.count, field: "active", found: "nothing (the query returns \(cells.count) columns; 6 are needed)")
        }
        func text(_ index: Int, _ field: String) throws -> String? {
            let cell = cells[index]
            guard cell.bytes != nil else { return nil }
            switch cell.dataType {
            case .int2: return String(try cell.decode(Int16.self))
            case .int4: return String(try cell.decode(Int32.self))
            case .int8: return String(try cell.decode(Int64.self))
            case .uuid: return try cell.decode(UUID.self).uuidString.lowercased()
            case .text, .varchar, .bpchar, .name, .unknown:
                return try cell.decode(String.self)
            default:
                if let value = try? cell.decode(String.self) { return value }
                throw DirectoryError.unexpectedColumn(index: index, field: field, found: "\(cell.dataType)")
            }
        }
        guard let id = try text(0, "id") else { throw DirectoryError.unreadableValue(field: "id") }
        guard let login = try text(1, "login") else { throw DirectoryError.unreadableValue(field: "login") }
        let activeCell = cells[5]
        let isActive: Bool
        switch activeCell.dataType {
        case _ where activeCell.bytes == nil: isActive = false
        case .bool: isActive = try activeCell.decode(Bool.self)
        case .int2, .int4, .int8: isActive = try activeCell.decode(Int64.self) != 0
        default:
            throw DirectoryError.unexpectedColumn(index: 5, field: "active", found: "\(activeCell.dataType)")
        }
        return PlatformUser(
            id: id,
            login: login,
            email: try text(2, "email")?.lowercased(),
            name: try text(3, "name"),
            passwordHash: try text(4, "password"),
            isActive: isActive
        )
    }
}
