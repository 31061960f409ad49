//! Blind A/B comparisons natively: which pairs a session shows and how it
//! shuffles them, votes stored in both runs and counted once, their
//! standings, and votes travelling in the experiment's JSON file and CSV.
#![cfg(not(target_arch = "wasm32"))]

mod support;
use prompt_runs::experiment::{
    blind_pairs, cast_votes, export_experiment, grid_csv, import_experiment, plan, votes_of,
    Choice, Experiment, Grid, InputFormat, InputTable, Pairing, Standings, Tally, Vote,
};
use prompt_runs::model::{PromptRun, RunStatus, Timestamp};
use std::collections::HashSet;
use std::sync::Arc;
use support::csv_table::CsvTable;

/// Three rows on three models, two repeats each.
fn capitals() -> Experiment {
    let mut experiment = Experiment::new("exp-ab", "A/B");
    experiment.template = "Capital of {{country}}?".into();
    experiment.inputs =
        InputTable::parse(b"country\nFrance\nPeru\nJapan\n", InputFormat::Csv).unwrap();
    experiment.models = vec!["m1".into(), "m2".into(), "m3".into()];
    experiment.repeats = 2;
    experiment
}

/// Every cell answered, except m2 failing on Japan's first repeat.
fn answered(experiment: &Experiment) -> Vec<Arc<PromptRun>> {
    (plan(experiment, &[]).unwrap().cells.iter())
        .map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            let failed = (cell.row, cell.model, cell.repeat) == (2, 1, 0);
            run.status = if failed {
                RunStatus::Error
            } else {
                RunStatus::Success
            };
            run.output = (!failed).then(|| format!("{} says row {}", cell.model, cell.row));
            Arc::new(run)
        })
        .collect()
}

/// `runs` with `updates` applied, as the store would.
fn applied(
    runs: &[Arc<PromptRun>],
    updates: impl IntoIterator<Item = (String, prompt_runs::model::PromptRunUpdate)>,
) -> Vec<Arc<PromptRun>> {
    let mut runs = runs.to_vec();
    for (id, update) in updates {
        let at = runs.iter().position(|run| run.id == id).unwrap();
        runs[at] = Arc::new(update.apply_to(&runs[at]).unwrap());
    }
    runs
}

#[test]
fn a_session_pairs_two_models_answers_to_the_same_input_shuffled_by_its_seed() {
    let experiment = capitals();
    let runs = answered(&experiment);
    let grid = Grid::build(&experiment, &runs);
    let pairs = blind_pairs(&experiment, &grid, (0, 1), 7);
    // 3 rows × 2 repeats, less Japan's first repeat (m2 failed there).
    assert_eq!(pairs.len(), 5);
    for pair in &pairs {
        let (left, right) = (
            pair.left.experiment_cell().unwrap(),
            pair.right.experiment_cell().unwrap(),
        );
        assert_eq!((left.row, left.repeat), (pair.row, pair.repeat));
        assert_eq!((right.row, right.repeat), (pair.row, pair.repeat));
        let models: HashSet<&str> = [left.model_id, right.model_id].into();
        assert_eq!(models, ["m1", "m2"].into());
    }
    assert_eq!(pairs, blind_pairs(&experiment, &grid, (0, 1), 7), "seeded");
    // Over a few seeds, m1 is on each side, and the rows come in other orders.
    let sessions: Vec<_> = (0..8)
        .map(|seed| blind_pairs(&experiment, &grid, (0, 1), seed))
        .collect();
    let left_models: HashSet<String> = (sessions.iter().flatten())
        .map(|pair| pair.left.model_id.clone())
        .collect();
    assert_eq!(left_models.len(), 2, "sides are shuffled");
    let orders: HashSet<Vec<(usize, u32)>> = (sessions.iter())
        .map(|pairs| pairs.iter().map(|pair| (pair.row, pair.repeat)).collect())
        .collect();
    assert!(orders.len() > 1, "the order is shuffled");

    // One model against itself, or in exact pairs (no shared input): none.
    assert!(blind_pairs(&experiment, &grid, (1, 1), 7).is_empty());
    let mut exact = experiment.clone();
    exact.pairing = Pairing::ExactPairs;
    let grid = Grid::build(&exact, &runs);
    assert!(blind_pairs(&exact, &grid, (0, 1), 7).is_empty());
}

#[test]
fn a_voted_pair_is_not_shown_again_and_counts_for_the_model_on_the_chosen_side() {
    let experiment = capitals();
    let runs = answered(&experiment);
    let grid = Grid::build(&experiment, &runs);
    let pair = blind_pairs(&experiment, &grid, (0, 1), 3).remove(0);
    let at = Timestamp::from_unix_millis(1_796_000_000_000);
    let runs = applied(&runs, pair.vote(Choice::A, &at));

    // Both runs hold the vote, each from its side.
    let left = runs.iter().find(|run| run.id == pair.left.id).unwrap();
    let right = runs.iter().find(|run| run.id == pair.right.id).unwrap();
    assert_eq!(votes_of(left).next().unwrap().vote, Vote::Win);
    assert_eq!(votes_of(right).next().unwrap().vote, Vote::Loss);
    assert_eq!(left.judged_at(), Some(at.clone()));

    let grid = Grid::build(&experiment, &runs);
    let left_now = blind_pairs(&experiment, &grid, (0, 1), 3);
    assert_eq!(left_now.len(), 4, "the voted pair is left out");
    assert!(left_now
        .iter()
        .all(|p| (p.row, p.repeat) != (pair.row, pair.repeat)));

    let standings = Standings::of(&cast_votes(runs.iter()), &experiment.models);
    assert_eq!(standings.contestants, ["m1", "m2"]);
    let winner = standings
        .contestants
        .iter()
        .position(|model| *model == pair.left.model_id)
        .unwrap();
    assert_eq!(
        standings.tally(winner, 1 - winner),
        Tally {
            wins: 1,
            losses: 0,
            ties: 0
        }
    );
    assert!(standings.ranking.is_none(), "two contestants: no ranking");
}

#[test]
fn votes_travel_in_the_experiment_file_and_the_grid_csv() {
    let experiment = capitals();
    let runs = answered(&experiment);
    let grid = Grid::build(&experiment, &runs);
    let at = Timestamp::from_unix_millis(1_796_000_000_000);
    let mut runs = runs;
    for pair in blind_pairs(&experiment, &grid, (0, 2), 11) {
        // m1 always wins against m3, whichever side it was on.
        let choice = if pair.left.model_id == "m1" {
            Choice::A
        } else {
            Choice::B
        };
        runs = applied(&runs, pair.vote(choice, &at));
    }
    let before = cast_votes(runs.iter());
    assert_eq!(before.len(), 6);

    let file = export_experiment(&experiment, &runs);
    let imported = import_experiment(&file).unwrap();
    let imported: Vec<Arc<PromptRun>> = imported.runs.into_iter().map(Arc::new).collect();
    assert_eq!(
        cast_votes(imported.iter()),
        before,
        "import brings them back"
    );

    let grid = Grid::build(&experiment, &runs);
    let csv = grid_csv(&experiment, &grid);
    let table = CsvTable::read(&csv);
    assert_eq!(table.cell(0, "m1 votes"), "won 2, lost 0, tied 0");
    assert_eq!(table.cell(0, "m3 votes"), "won 0, lost 2, tied 0");
    assert_eq!(table.cell(0, "m2 votes"), "", "m2 was not compared");
}

#[test]
fn a_judges_votes_travel_in_the_file_as_judge_calls_and_stay_apart_from_peoples() {
    use prompt_runs::experiment::judge_vote::pending_pairwise_run;
    use prompt_runs::experiment::{judge_votes, pairwise_request, Judges};
    let experiment = capitals();
    let runs = answered(&experiment);
    let grid = Grid::build(&experiment, &runs);
    let pair = blind_pairs(&experiment, &grid, (0, 1), 5).remove(0);
    let request = pairwise_request("judge-1", &pair, None);
    let mut call = pending_pairwise_run(&request, &experiment.id, &pair);
    call.status = RunStatus::Success;
    call.output = Some(r#"{"winner": "B", "reason": "B is better."}"#.into());
    let mut runs = runs;
    runs.push(Arc::new(call));

    let file = export_experiment(&experiment, &runs);
    let imported =
        import_experiment(&file).expect("a judge's vote is a judge call of the experiment");
    let imported: Vec<Arc<PromptRun>> = imported.runs.into_iter().map(Arc::new).collect();
    assert_eq!(imported.len(), runs.len());
    let judges = Judges::of(&experiment.id, imported.iter());
    let votes = judge_votes(judges.runs());
    assert_eq!(votes.len(), 1);
    let (judge, votes) = &votes[0];
    assert_eq!((judge.as_str(), votes.len()), ("judge-1", 1));
    let standings = Standings::of(votes, &experiment.models);
    let right = (standings.contestants.iter())
        .position(|model| *model == pair.right.model_id)
        .unwrap();
    assert_eq!(standings.tally(right, 1 - right).wins, 1, "B won");
    assert!(cast_votes(imported.iter()).is_empty(), "no person voted");
}
