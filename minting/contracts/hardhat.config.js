// Only for the real-node test (tests/minting/test_realnode.py): `npx hardhat node` on 127.0.0.1.
// HARDHAT_INTERVAL_MS > 0 mines a block every that many milliseconds instead of one per transaction.
const interval = parseInt(process.env.HARDHAT_INTERVAL_MS || "0", 10);
module.exports = {
  solidity: "0.8.37",
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "prague",
      mining: interval > 0 ? { auto: false, interval } : { auto: true },
    },
  },
};
