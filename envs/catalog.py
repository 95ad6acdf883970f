"""The registered environment names. Add a family's names here, versioned."""

from metarl.envs.bandit import BanditConfig, build_bandit
from metarl.envs.registry import register

register(
    "bandit-bernoulli-v0",
    BanditConfig,
    build_bandit,
    "k-armed Bernoulli bandit, arm means ~ U(0,1), H pulls (RL^2 / Duan et al. 2016).",
    family="bandit",
    reward_type="bernoulli",
)
register(
    "bandit-gaussian-v0",
    BanditConfig,
    build_bandit,
    "k-armed Gaussian bandit, arm means ~ U(0,1), unit reward noise.",
    family="bandit",
    reward_type="gaussian",
)
register(
    "bandit-dependent-v0",
    BanditConfig,
    build_bandit,
    "Two-armed Bernoulli bandit with means p and 1-p (Wang et al. 2018).",
    family="bandit",
    num_arms=2,
    prior="dependent",
)
register(
    "bandit-restless-v0",
    BanditConfig,
    build_bandit,
    "Bernoulli bandit whose means follow a logit random walk (volatility 0.1) with change-points (hazard 0.02).",
    family="bandit",
    drift="random_walk+change_point",
    volatility=0.1,
    hazard=0.02,
)

from metarl.envs.two_step import TwoStepConfig, build_two_step  # noqa: E402

register(
    "two-step-v0",
    TwoStepConfig,
    build_two_step,
    "Two-step task, Wang et al. 2018 version: common transition 0.8, good state p=0.9 / bad 0.1, "
    "good side swaps with probability 0.025 per trial, 100 trials (200 steps).",
    family="two_step",
    variant="wang",
)
register(
    "two-step-daw-v0",
    TwoStepConfig,
    build_two_step,
    "Two-step task, Daw et al. 2011 version: common transition 0.7, four reward probabilities "
    "walking (sd 0.025) in [0.25, 0.75] once per trial, 100 trials (200 steps).",
    family="two_step",
    variant="daw",
    common_prob=0.7,
)

from metarl.envs.maze import MazeConfig, build_maze  # noqa: E402

register(
    "maze-v0",
    MazeConfig,
    build_maze,
    "Hidden-goal maze (MetaMaze / Dark-Room style): 5x5-cell perfect maze (11x11 grid), 3x3 egocentric "
    "view, reward 10 at the goal then respawn, 200 steps; layouts from a 4096-layout bank unless num_tasks.",
    family="maze",
)
register(
    "maze-loops-v0",
    MazeConfig,
    build_maze,
    "maze-v0 with 4 extra walls knocked out of each perfect maze, so that routes loop and detours vary.",
    family="maze",
    extra_openings=4,
)
register(
    "maze-moving-goal-v0",
    MazeConfig,
    build_maze,
    "maze-v0 whose goal jumps to another square of the same maze with hazard 0.01 per step (change-points).",
    family="maze",
    drift="change_point",
    hazard=0.01,
)
register(
    "maze-reversal-v0",
    MazeConfig,
    build_maze,
    "maze-v0 whose goal swaps with a fixed alternative square after step 100 (a reversal).",
    family="maze",
    drift="reversal",
    reversal_steps=(100,),
)

from metarl.envs.maze_grid import build_maze_grid  # noqa: E402

register(
    "maze-grid-v0",
    MazeConfig,
    build_maze_grid,
    "maze-v0 with the whole layout in view: the 3x3 view bits, then the (2m-1)x(2m-1) interior as "
    "wall and agent channels (a spatial input for the drc core); the goal stays hidden.",
    family="maze",
)

from metarl.envs.rule_grid import RuleGridConfig, build_rule_grid  # noqa: E402

register(
    "rule-grid-v0",
    RuleGridConfig,
    build_rule_grid,
    "Rule gridworld (XLand-MiniGrid-like): 9x9 with walls, 3 object types x 3, hidden ruleset of "
    "per-type reward in {-1, 0, 1} and effect (disappear/respawn/transform), 5x5 egocentric view, "
    "4 trials of 25 steps.",
    family="rule_grid",
)
register(
    "rule-grid-full-v0",
    RuleGridConfig,
    build_rule_grid,
    "rule-grid-v0 with a full view of the 7x7 interior (object channels + agent channel).",
    family="rule_grid",
    view="full",
)

from metarl.envs.dark_room import DarkRoomConfig, build_dark_room  # noqa: E402

register(
    "dark-room-v0",
    DarkRoomConfig,
    build_dark_room,
    "Dark Room (Laskin et al. 2022): 9x9 open room, hidden goal, reward 1 per step on it, agent "
    "sees only its own cell; 10 trials (the paper's 20-step episodes) from the centre per goal.",
    family="dark_room",
)
