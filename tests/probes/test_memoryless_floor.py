"""The memoryless floor of the learner-vs-locator comparison, on choices of known law."""

import numpy as np
import pytest

from metarl.probes import likelihood, memoryless_floor

NUM_ARMS, STEPS, EPISODES = 4, 40, 2000


def _wsls_history(rng, stay_after_win: float, stay_after_loss: float):
    """A memoryless player: stays with probability set by the last reward, else a uniform
    other arm; a uniform first arm. Rewards are fair coins, so every cell is visited."""
    actions = np.zeros((STEPS, EPISODES), np.int64)
    rewards = (rng.random((STEPS, EPISODES)) < 0.5).astype(np.float64)
    actions[0] = rng.integers(0, NUM_ARMS, EPISODES)
    for t in range(1, STEPS):
        stay_p = np.where(rewards[t - 1] > 0.5, stay_after_win, stay_after_loss)
        stay = rng.random(EPISODES) < stay_p
        other = (actions[t - 1] + rng.integers(1, NUM_ARMS, EPISODES)) % NUM_ARMS
        actions[t] = np.where(stay, actions[t - 1], other)
    return actions, rewards


def _true_log_probs(actions, rewards, stay_after_win, stay_after_loss):
    stay_p = np.where(rewards[:-1] > 0.5, stay_after_win, stay_after_loss)
    stayed = actions[1:] == actions[:-1]
    later = np.where(stayed, np.log(stay_p), np.log((1.0 - stay_p) / (NUM_ARMS - 1)))
    first = np.full((1, actions.shape[1]), -np.log(NUM_ARMS))
    return np.concatenate([first, later], axis=0)


def test_the_floor_recovers_a_memoryless_law_out_of_sample():
    """Held out, the floor scores a memoryless player's choices as well as the law that made
    them, up to the pseudocount: each of the (k + 1) x 2 x 10 cells holds about
    1000 x 40 / 80 = 500 fitted choices, so smoothing costs O(k * 0.5 / 500) = 0.004 nats."""
    rng = np.random.default_rng(0)
    actions, rewards = _wsls_history(rng, 0.9, 0.3)
    order = rng.permutation(EPISODES)
    halves = (order[: EPISODES // 2], order[EPISODES // 2 :])
    floor = memoryless_floor.cross_validated_log_probs(actions, rewards, NUM_ARMS, halves)
    truth = _true_log_probs(actions, rewards, 0.9, 0.3)
    assert floor.shape == truth.shape
    assert abs(floor.mean() - truth.mean()) < 0.01
    # and it is a real account: far above uniform choice on these choices
    assert floor.mean() > -np.log(NUM_ARMS) + 0.2


def test_the_floor_cannot_fit_what_depends_on_more_than_the_last_step():
    """A player that returns to the arm it chose two steps back: the last step says nothing of
    that arm, so the floor does no better than a uniform choice among the other arms."""
    rng = np.random.default_rng(1)
    rewards = (rng.random((STEPS, EPISODES)) < 0.5).astype(np.float64)
    first = rng.integers(0, NUM_ARMS, EPISODES)
    second = (first + rng.integers(1, NUM_ARMS, EPISODES)) % NUM_ARMS
    actions = np.where(np.arange(STEPS)[:, None] % 2 == 0, first, second)
    floor = memoryless_floor.memoryless_log_probs(actions, rewards, NUM_ARMS)
    # every later choice switches to one of k - 1 arms, and which one the last step cannot tell
    assert floor[1:].mean() == pytest.approx(-np.log(NUM_ARMS - 1), abs=0.01)


def test_fitting_weights_decide_the_table_and_every_column_is_scored():
    rng = np.random.default_rng(2)
    actions, rewards = _wsls_history(rng, 0.8, 0.2)
    weights = np.zeros(EPISODES)
    weights[: EPISODES // 2] = 1.0
    before = memoryless_floor.memoryless_log_probs(actions, rewards, NUM_ARMS, weights)
    changed = actions.copy()
    changed[:, -1] = (changed[:, -1] + 1) % NUM_ARMS  # a column outside the fitting half
    after = memoryless_floor.memoryless_log_probs(changed, rewards, NUM_ARMS, weights)
    np.testing.assert_array_equal(before[:, :-1], after[:, :-1])
    assert not np.array_equal(before[:, -1], after[:, -1])


def test_an_episode_start_inside_a_column_has_no_previous_choice():
    """Two episodes back to back in one column score like the same two as separate columns."""
    rng = np.random.default_rng(3)
    actions, rewards = _wsls_history(rng, 0.9, 0.3)
    half = STEPS // 2
    stacked_a = np.concatenate([actions[:half, ::2], actions[:half, 1::2]], axis=0)
    stacked_r = np.concatenate([rewards[:half, ::2], rewards[:half, 1::2]], axis=0)
    start = np.zeros(stacked_a.shape, bool)
    start[0] = start[half] = True
    joined = memoryless_floor.memoryless_log_probs(
        stacked_a, stacked_r, NUM_ARMS, episode_start=start
    )
    apart = memoryless_floor.memoryless_log_probs(
        np.concatenate([actions[:half, ::2], actions[:half, 1::2]], axis=1),
        np.concatenate([rewards[:half, ::2], rewards[:half, 1::2]], axis=1),
        NUM_ARMS,
    )
    columns = EPISODES // 2
    np.testing.assert_allclose(joined[:half], apart[:, :columns])
    np.testing.assert_allclose(joined[half:], apart[:, columns:])


def test_bad_arguments_name_the_field():
    actions = np.zeros((3, 2), np.int64)
    with pytest.raises(ValueError, match="num_arms"):
        memoryless_floor.memoryless_log_probs(actions, actions, 1)
    with pytest.raises(ValueError, match="time_bins"):
        memoryless_floor.memoryless_log_probs(actions, actions, 2, time_bins=0)


def _two_back_history(rng):
    """Alternates between two arms: each choice is the arm chosen two steps back."""
    rewards = (rng.random((STEPS, EPISODES)) < 0.5).astype(np.float64)
    first = rng.integers(0, NUM_ARMS, EPISODES)
    second = (first + rng.integers(1, NUM_ARMS, EPISODES)) % NUM_ARMS
    actions = np.where(np.arange(STEPS)[:, None] % 2 == 0, first, second)
    return actions, rewards


def _halves(rng):
    order = rng.permutation(EPISODES)
    return order[: EPISODES // 2], order[EPISODES // 2 :]


def test_a_belief_counts_by_what_it_adds_beyond_the_last_step():
    """A belief that knows the arm of two steps back explains the two-back player's choices
    (log(k - 1) nats per choice beyond the floor, which cannot tell the other arms apart);
    a belief of noise adds nothing, held out."""
    rng = np.random.default_rng(4)
    actions, rewards = _two_back_history(rng)
    two_back = np.concatenate([np.zeros((2, EPISODES), np.int64), actions[:-2]], axis=0)
    knowing = np.eye(NUM_ARMS)[two_back]
    knowing[:2] = 0.0  # nothing two steps back yet
    noise = rng.random(knowing.shape)
    floor, beyond = memoryless_floor.beyond_floor(
        actions, rewards, NUM_ARMS, {"knowing": knowing, "noise": noise}, _halves(rng)
    )
    gain = (beyond["knowing"] - floor)[2:].mean()
    assert gain > np.log(NUM_ARMS - 1) - 0.05
    assert abs((beyond["noise"] - floor).mean()) < likelihood.MIN_GAIN


def test_sharpening_the_floor_is_not_credited_to_a_belief():
    """Noiseless win-stay lose-shift, and a 'belief' that only restates the last outcome (the
    last arm's value 1 after a win, 0 after a loss): the floor's pseudocount leaves 'stay after
    a win' short of certain, and its fitted sharpness, not the belief, takes it there."""
    rng = np.random.default_rng(5)
    actions, rewards = _wsls_history(rng, 1.0, 0.0)
    previous = np.concatenate([np.zeros((1, EPISODES), np.int64), actions[:-1]], axis=0)
    won = np.concatenate([np.zeros((1, EPISODES)), rewards[:-1]], axis=0)
    restating = np.eye(NUM_ARMS)[previous] * won[..., None]
    floor, beyond = memoryless_floor.beyond_floor(
        actions, rewards, NUM_ARMS, {"restating": restating}, _halves(rng)
    )
    assert (beyond["restating"] - floor).mean() < likelihood.MIN_GAIN
