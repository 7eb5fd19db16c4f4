"""Decision-time lookahead: before each real decision the world model dreams a little way past every action.

The policy alone acts on what it learnt in dreams. With lookahead (`--lookahead-samples M`, M > 0) the
agent also asks its world model at each real decision: for every action a, M dreams of
`--lookahead-horizon` decisions start from the real context, take a first and then follow the policy.
A dream scores the discounted dreamed rewards, each weighed by the dreamed chance of still being
alive, plus the critic's value of its last window; Q(a) is the mean over the M dreams, and the agent
takes the action of highest Q. The dreams of all actions share their noise (common random numbers),
so two actions' scores differ by the action and not by the draw. Until an episode has C real frames,
and so the actions between them, the policy acts alone. Training is unchanged: the option only sets how
the agent acts in evaluation, the evaluations of a training run and those of `dreamdit eval`.
"""
import torch

from agent.acting import DreamingActor
from agent.checkpoint import Agent
from world_model.sampler import dream


class LookaheadActor(DreamingActor):
    def __init__(self, agent: Agent, horizon: int, samples: int, seed: int, device="cpu"):
        super().__init__(agent.autoencoder, agent.actor_critic, agent.config.world_model.context, device)
        self.world_model, self.sampler, self.num_actions = agent.world_model, agent.config.sampler, agent.num_actions
        self.horizon, self.samples = horizon, samples
        self.seeds = torch.Generator().manual_seed(seed)

    def revise(self, windows: torch.Tensor, between: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        return self.scores(windows, between).argmax(1)

    def scores(self, windows: torch.Tensor, between: torch.Tensor) -> torch.Tensor:
        """(n, A) mean dreamed return of each action after latent windows (n, C, c, h, w) and the actions
        between their frames (n, C - 1)."""
        net, M = self.actor_critic, self.samples
        context, between = windows.repeat_interleave(M, 0), between.repeat_interleave(M, 0)
        seed = int(torch.randint(2 ** 62, (1,), generator=self.seeds))
        scores = []
        for action in range(self.num_actions):
            first = torch.full((self.num_actions,), -torch.inf, device=self.device)
            first[action] = 0.0

            def policy(dreamed):  # the policy, but the first decision is `action`
                logits = net.policy_logits(dreamed).float()
                logits[:, 0] = first
                return logits

            noise = torch.Generator(device=self.device).manual_seed(seed)
            d = dream(self.world_model, context, between, self.sampler, policy=policy, horizon=self.horizon,
                      generator=noise)
            # weight: the discount so far times the dreamed chance of still being alive
            score, weight = torch.zeros(len(context), device=self.device), torch.ones(len(context), device=self.device)
            for k in range(self.horizon):
                score, weight = score + weight * d.rewards[:, k], weight * net.cfg.gamma * (1 - d.end_probs[:, k])
            score = score + weight * net.value(net(d.latents[:, -self.context:])[1])  # the critic past the dream
            scores.append(score.view(-1, M).mean(1))
        return torch.stack(scores, 1)

