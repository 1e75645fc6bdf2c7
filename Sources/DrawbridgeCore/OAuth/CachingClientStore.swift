/// Client look-ups from memory for up to `lifetime`: every authorize and token request names a client,
/// and clients change rarely. Changes made through this store take effect here at once; those made elsewhere
/// (the CLI, another replica) when their NOTIFY arrives.
public struct CachingClientStore: ClientStore, CacheInvalidationTarget {
    let base: any ClientStore
    let cache: ExpiringCache<String, OAuthClient?>

    public init(_ base: any ClientStore, lifetime: Duration = .seconds(1)) {
        self.base = base
        self.cache = ExpiringCache(lifetime: lifetime, capacity: 10_000)
    }

    public func client(id: String) async throws -> OAuthClient? {
        try await cache.value(for: id) { try await base.client(id: id) }
    }

    public func all() async throws -> [OAuthClient] { try await base.all() }

    public func insert(_ client: OAuthClient) async throws {
        try await base.insert(client)
        cache.remove(client.clientID)
    }

    public func update(_ client: OAuthClient) async throws -> Bool {
        defer { cache.remove(client.clientID) }
        return try await base.update(client)
    }

    public func remove(id: String) async throws -> Bool {
        defer { cache.remove(id) }
        return try await base.remove(id: id)
    }

    public func invalidate(_ invalidation: CacheInvalidation) {
        if case .client(let id) = invalidation { cache.remove(id) }
    }

    public func invalidateAll() { cache.removeAll() }
}
