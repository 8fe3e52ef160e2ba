# Fit ridge regression (closed form) on data/train.csv; save the model and training metrics.
include(joinpath(@__DIR__, "common.jl"))

function main()
    flags = parse_flags(["train" => "data/train.csv", "model-dir" => "model",
                         "metrics" => "metrics.json", "lambda" => "1.0", "seed" => "42"])
    lambda = flag_nonneg_float(flags, "lambda")
    flag_int(flags, "seed")  # accepted for uniformity; the closed-form fit uses no randomness

    X = read_table(flags["train"], FEATURES)
    y = vec(read_table(flags["train"], [TARGET]))
    size(X, 1) > length(FEATURES) || die("$(flags["train"]): too few rows to fit")
    model = try
        fit_ridge(X, y, lambda)
    catch err
        err isa PosDefException || rethrow()
        die("the ridge system is singular; use --lambda > 0")
    end

    model_dir = flags["model-dir"]
    ispath(model_dir) && !isdir(model_dir) && die("$model_dir exists and is not a directory")
    rm(model_dir; force = true, recursive = true)
    mkpath(model_dir)
    open(io -> serialize(io, model), joinpath(model_dir, MODEL_FILE), "w")
    write(joinpath(model_dir, FEATURES_FILE), to_json(model.features) * "\n")
    # Human-readable copy: raw-scale coefficients (y = intercept + sum(coefficient * x)) and
    # the fitted ones, per standard deviation of each feature.
    raw = model.coef ./ model.std
    open(joinpath(model_dir, COEFFICIENTS_FILE), "w") do io
        println(io, "term,coefficient,standardized_coefficient")
        println(io, "intercept,", model.intercept - sum(raw .* model.mean), ",", model.intercept)
        for (i, name) in enumerate(model.features)
            println(io, name, ",", raw[i], ",", model.coef[i])
        end
    end

    write_metrics(flags["metrics"], regression_metrics(y, predict_ridge(model, X)))
end

run(main)
