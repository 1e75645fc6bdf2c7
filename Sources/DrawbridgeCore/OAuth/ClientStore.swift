/// Registered OAuth clients.
public protocol ClientStore: Sendable {
    func client(id: String) async throws -> OAuthClient?
    func all() async throws -> [OAuthClient]
    /// Registers a client; throws `ClientStoreError.duplicate` when the id is taken.
    func insert(_ client: OAuthClient) async throws
    /// Replaces a client's settings (not its id); false when it does not exist.
    func update(_ client: OAuthClient) async throws -> Bool
    /// Removes a client and, by cascade, its codes, tokens and consents; false when it did not exist.
    func remove(id: String) async throws -> Bool
}

public enum ClientStoreError: Error, Sendable, Equatable {
    case duplicate(String)
}
