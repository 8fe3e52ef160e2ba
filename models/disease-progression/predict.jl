# Long-lived prediction worker: one JSON request per stdin line, one JSON response line out.
#   request:  {"columns": ["age", ...], "data": [[0.038, ...], ...]}
#   response: {"predictions": [151.2, ...]}  or  {"error": "..."}
include(joinpath(@__DIR__, "common.jl"))

struct RequestError <: Exception
    msg::String
end
Base.showerror(io::IO, e::RequestError) = print(io, e.msg)

"Validate one request line; return its rows as a matrix in the model's feature order."
function parse_request(line::AbstractString, features::Vector{String})
    req = parse_json(line)
    req isa Dict || throw(RequestError("request must be a JSON object"))
    for key in sort!(collect(keys(req)))
        key in ("columns", "data") || throw(RequestError("unknown key '$key'"))
    end
    columns = get(req, "columns", nothing)
    if !(columns isa Vector && all(c -> c isa String, columns))
        throw(RequestError("'columns' must be a list of strings"))
    end
    for name in columns
        name in features || throw(RequestError("unknown column '$name'"))
    end
    allunique(columns) || throw(RequestError("duplicate column names"))
    for name in features
        name in columns || throw(RequestError("missing column '$name'"))
    end
    data = get(req, "data", nothing)
    data isa Vector || throw(RequestError("'data' must be a list of rows"))
    # Map each model feature to its position in the request's column order.
    position = [findfirst(==(name), columns) for name in features]
    X = Matrix{Float64}(undef, length(data), length(features))
    for (r, row) in enumerate(data)
        # The parser returns every JSON number as Float64; true/false/null are rejected here.
        if !(row isa Vector && length(row) == length(columns) && all(v -> v isa Float64, row))
            throw(RequestError("row $(r - 1) must be a list of $(length(columns)) numbers"))
        end
        X[r, :] = row[position]
    end
    return X
end

function respond(line::AbstractString, model)
    X = try
        parse_request(line, model.features)
    catch err
        err isa InterruptException && rethrow()
        # Any failure here is the request's fault; answer it and keep the worker alive.
        msg = sprint(showerror, err)
        (err isa RequestError || err isa JSONError) || (msg = "bad request: " * msg)
        return to_json(Dict("error" => msg))
    end
    try
        pred = predict_ridge(model, X)
        if !all(isfinite, pred)
            return to_json(Dict("error" => "prediction failed: non-finite value"))
        end
        return to_json(Dict("predictions" => pred))
    catch err
        err isa InterruptException && rethrow()
        return to_json(Dict("error" => "prediction failed: " * sprint(showerror, err)))
    end
end

function main()
    flags = parse_flags(["model-dir" => "model"])
    model = load_model(flags["model-dir"])
    println(stdout, "{\"ready\": true}")
    flush(stdout)
    for line in eachline(stdin)
        println(stdout, respond(line, model))
        flush(stdout)
    end
end

run(main)
