-- wrk script: POST /oauth/token grant_type=refresh_token, chaining rotated refresh tokens.
--
-- Every refresh token is used exactly once: each wrk thread keeps a pool of its refresh tokens
-- (lines i, i + threads, ... of BENCH_TOKENS); request() takes one out, response() puts the new
-- refresh_token of a 200 answer back. With at least as many tokens per thread as connections
-- per thread, a connection always finds one. A non-200 answer loses its token (a thread that
-- runs out counts "starved" and sends a request with no valid token, which shows as non-200).
--
-- Environment: BENCH_TOKENS, BENCH_THREADS, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_STATUS_FILE

local threads = {}
local next_id = 0
function setup(thread)
    next_id = next_id + 1
    thread:set("id", next_id)
    table.insert(threads, thread)
end

local function urlencode(s)
    return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

counts = {}
local pool = {}
local reported = false
local verifying = false
local fixed
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
function init(args)
    local path = os.getenv("BENCH_TOKENS") or error("BENCH_TOKENS is not set")
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    local i = 0
    for line in io.lines(path) do
        if (i % nthreads) + 1 == id then
            local r = line:match("\t([^\t]+)$")
            table.insert(pool, r)
        end
        i = i + 1
    end
    verifying = (id == 1)
    fixed = "&client_id=" .. urlencode(os.getenv("BENCH_CLIENT_ID")) ..
        "&client_secret=" .. urlencode(os.getenv("BENCH_CLIENT_SECRET"))
end

function request()
    local token
    if verifying then
        -- wrk calls the first thread's request() once before the run to check the script
        -- (script_verify_request); that request is never sent, so do not spend a token on it.
        verifying = false
        token = pool[#pool] or "exhausted"
    else
        token = table.remove(pool) or "exhausted"
        if token == "exhausted" then counts["starved"] = (counts["starved"] or 0) + 1 end
    end
    return wrk.format("POST", "/oauth/token", headers,
        "grant_type=refresh_token&refresh_token=" .. urlencode(token) .. fixed)
end

function response(status, _, body)
    local key = tostring(status)
    counts[key] = (counts[key] or 0) + 1
    if status ~= 200 and not reported then
        reported = true
        io.stderr:write("refresh.lua: first non-200 (" .. status .. "): " .. body:sub(1, 300) .. "\n")
    end
    if status == 200 then
        local r = body:match('"refresh_token"%s*:%s*"([^"]+)"')
        if r then table.insert(pool, r) else counts["no_refresh_token"] = (counts["no_refresh_token"] or 0) + 1 end
    end
end

function done(stats, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for key, v in pairs(thread:get("counts") or {}) do total[key] = (total[key] or 0) + v end
    end
    local keys = {}
    for key in pairs(total) do table.insert(keys, key) end
    table.sort(keys)
    local out = os.getenv("BENCH_STATUS_FILE")
    local file = out and io.open(out, "a") or nil
    for _, key in ipairs(keys) do
        io.write(string.format("status %s: %d\n", key, total[key]))
        if file then file:write(string.format("%s %d\n", key, total[key])) end
    end
    if file then file:close() end
end
