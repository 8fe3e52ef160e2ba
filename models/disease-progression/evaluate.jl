# Score the saved ridge model on the holdout set; write holdout metrics plus n_rows.
include(joinpath(@__DIR__, "common.jl"))

function main()
    flags = parse_flags(["model-dir" => "model", "holdout" => "data/holdout.csv",
                         "metrics" => "evaluation.json"])
    model = load_model(flags["model-dir"])
    X = read_table(flags["holdout"], model.features)
    y = vec(read_table(flags["holdout"], [TARGET]))
    metrics = regression_metrics(y, predict_ridge(model, X))
    metrics["n_rows"] = length(y)
    write_metrics(flags["metrics"], metrics)
end

run(main)
