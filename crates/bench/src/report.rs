//! One table row per figure: the value, the limit it is judged against
//! (measured in the same run), their ratio, and the goal when there is one.

use serde::Serialize;

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Scenario (or `limit`).
    pub scenario: String,
    /// What was measured.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// The limit's name, when the figure is judged against one.
    pub limit_name: Option<String>,
    /// The limit's value, from this run.
    pub limit: Option<f64>,
    /// `value / limit`.
    pub ratio: Option<f64>,
    /// The goal, in words.
    pub goal: Option<String>,
    /// Whether the goal is met.
    pub met: Option<bool>,
}

impl Figure {
    /// A bare figure.
    pub fn new(scenario: &str, name: &str, value: f64, unit: &str) -> Self {
        Figure {
            scenario: scenario.to_owned(),
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            limit_name: None,
            limit: None,
            ratio: None,
            goal: None,
            met: None,
        }
    }

    /// Judged against `limit` (the ratio is filled in).
    pub fn against(mut self, limit_name: &str, limit: f64) -> Self {
        self.limit_name = Some(limit_name.to_owned());
        self.limit = Some(limit);
        self.ratio = (limit > 0.0).then(|| self.value / limit);
        self
    }

    /// With a goal and whether it is met.
    pub fn goal(mut self, goal: &str, met: bool) -> Self {
        self.goal = Some(goal.to_owned());
        self.met = Some(met);
        self
    }
}

fn num(x: f64) -> String {
    if x >= 100.0 {
        let s = format!("{x:.0}");
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Prints the figures as a Markdown table (pastes into docs/performance.md).
pub fn print(figures: &[Figure]) {
    println!("| scenario | figure | value | limit (same run) | ratio | goal | met |");
    println!("|---|---|---:|---|---:|---|---|");
    for f in figures {
        let limit = match (&f.limit_name, f.limit) {
            (Some(n), Some(l)) => format!("{n}: {}", num(l)),
            _ => String::new(),
        };
        let ratio = f.ratio.map(|r| format!("{r:.2}×")).unwrap_or_default();
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        println!(
            "| {} | {} | {} {} | {} | {} | {} | {} |",
            f.scenario,
            f.name,
            num(f.value),
            f.unit,
            limit,
            ratio,
            f.goal.as_deref().unwrap_or(""),
            met
        );
    }
}
